output "control_function_arn" {
  description = "Invoke with {\"action\":\"reconcile\"} to reconcile now."
  value       = aws_lambda_function.control.arn
}

output "stage_events_rule_arn" {
  description = "The EventBridge rule on API Gateway's management events."
  value       = aws_cloudwatch_event_rule.stage_events.arn
}

output "decode_function_arn" {
  description = "Destination for subscription filters (feed it to the api-subscription module)."
  value       = aws_lambda_function.decode.arn
}

output "shipper_function_arn" {
  description = "The shipper function."
  value       = aws_lambda_function.shipper.arn
}

output "queue_url" {
  description = "The queue between decode and shipper."
  value       = aws_sqs_queue.queue.url
}

output "shipper_dlq_url" {
  description = "Frames the shipper gave up on (apigw-stream replay)."
  value       = aws_sqs_queue.shipper_dlq.url
}

output "decode_dlq_url" {
  description = "Log payloads the decode function gave up on (apigw-stream replay)."
  value       = aws_sqs_queue.decode_dlq.url
}

output "key_arn" {
  description = "The module's KMS key (queues, secret, alarm topic, log groups)."
  value       = aws_kms_key.this.arn
}

output "client_secret_arn" {
  description = "The secret the shipper reads."
  value       = local.client_secret_arn
}

output "alarm_topic_arn" {
  description = "The created alarm topic, or null."
  value       = var.create_alarm_topic ? aws_sns_topic.alarms[0].arn : null
}

output "stitch_queue_url" {
  description = "The FIFO queue where parts of requests meet (docs/stitching.md)."
  value       = aws_sqs_queue.stitch.url
}

output "stitch_dlq_url" {
  description = "Stitch-queue messages that were not request parts."
  value       = aws_sqs_queue.stitch_dlq.url
}

output "api_gateway_cloudwatch_role_arn" {
  description = "API Gateway's account CloudWatch Logs role, when this module created it, or null."
  value       = var.create_api_gateway_account_role ? aws_iam_role.apigateway_cloudwatch[0].arn : null
}

output "subscription_filter_names" {
  description = "Subscription filter name per API key."
  value       = { for k, f in aws_cloudwatch_log_subscription_filter.api : k => f.name }
}

output "access_log_formats" {
  description = "Recommended access-log format per API key; set it as the stage's access_log_settings.format where Terraform owns the stage."
  value       = { for k, a in var.apis : k => local.access_log_formats[a.api_kind] }
}

output "subscribed_log_groups" {
  description = "The log group streamed to the decode function, per API key."
  value       = local.subscribed_group
}

output "delivery_names" {
  description = "Name of the 1 MB delivery's source and destination, per large-bodies API key."
  value       = local.delivery_names
}

output "decode_function_arn" {
  description = "Destination of the subscription filters."
  value       = module.pipeline.decode_function_arn
}

output "queue_url" {
  description = "The queue between decode and shipper."
  value       = module.pipeline.queue_url
}

output "shipper_dlq_url" {
  description = "Shipper dead-letter queue."
  value       = module.pipeline.shipper_dlq_url
}

output "decode_dlq_url" {
  description = "Decode dead-letter queue."
  value       = module.pipeline.decode_dlq_url
}

output "subscription_filter_names" {
  description = "Subscription filter per API."
  value       = module.apis.subscription_filter_names
}

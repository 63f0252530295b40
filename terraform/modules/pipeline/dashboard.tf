# The health view: the figures `apigw-stream status` shows, as a CloudWatch dashboard. The body is generated from
# src/control/ops/view.rs (`apigw-stream dashboard --write`); a test fails when dashboard.json.tftpl is stale.
resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name}-${local.region}"
  dashboard_body = templatefile("${path.module}/dashboard.json.tftpl", {
    region           = local.region
    queue            = aws_sqs_queue.queue.name
    shipper_dlq      = aws_sqs_queue.shipper_dlq.name
    decode_dlq       = aws_sqs_queue.decode_dlq.name
    stitch_queue     = aws_sqs_queue.stitch.name
    stitch_dlq       = aws_sqs_queue.stitch_dlq.name
    decode_function  = aws_lambda_function.decode.function_name
    shipper_function = aws_lambda_function.shipper.function_name
  })
}

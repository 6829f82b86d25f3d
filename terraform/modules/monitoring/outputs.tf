output "topic_arn" {
  description = "The SNS topic the alarms and the failed-job rule publish to."
  value       = local.topic_arn
}

output "alarm_names" {
  description = "Every alarm, by what it watches."
  value       = merge({ for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }, { rekognition_throttled = aws_cloudwatch_metric_alarm.rekognition_throttled.alarm_name })
}

output "failed_jobs_rule_name" {
  description = "The EventBridge rule that reports FAILED Batch jobs and children."
  value       = aws_cloudwatch_event_rule.failed.name
}

output "dashboard_name" {
  description = "The CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "The dashboard in the console."
  value       = "https://${local.region}.${local.console}/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "job_state_log_policy" {
  description = "The CloudWatch Logs resource policy statements EventBridge needs to write job state changes (JSON), for the deployment's one resource policy."
  value       = data.aws_iam_policy_document.jobs_log.json
}

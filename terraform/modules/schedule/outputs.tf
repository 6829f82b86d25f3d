output "function_name" {
  description = "Name of the scheduler function (invoke it with {\"action\": \"start\"} or {\"action\": \"stop\"} by hand)."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the scheduler function."
  value       = aws_lambda_function.this.arn
}

output "start_schedule_name" {
  description = "Name of the start schedule."
  value       = aws_scheduler_schedule.start.name
}

output "stop_schedule_name" {
  description = "Name of the stop schedule."
  value       = aws_scheduler_schedule.stop.name
}

output "poll_schedule_name" {
  description = "Name of the poll schedule the function switches on while the model starts or drains."
  value       = aws_scheduler_schedule.poll.name
}

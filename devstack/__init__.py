"""The local stack: the template's functions, routes, queues and schedules on one machine."""

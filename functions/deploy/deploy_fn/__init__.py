"""The deploy API: deploy, update and roll back a project, and follow its deployments."""

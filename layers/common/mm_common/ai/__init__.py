"""The AI side of MoreMinimore: what a model's answer means for a project, and how it is applied."""

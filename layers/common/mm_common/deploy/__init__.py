"""Clients for the deploy targets: Gitea (code backup, one commit per version) and Easypanel (apps and databases).

Both speak to real services over httpx, return typed results and raise the classified errors of
`mm_common.deploy.errors` (transient: retry; permanent: fail the step), never with a secret in a message.
"""

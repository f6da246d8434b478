"""Design systems: an engine's recommendation (UI/UX Pro Max) made complete, accessible and usable.

``engine`` loads the engine; ``tokens``, ``contrast`` and ``typography`` complete what it gives;
``document`` builds, edits and merges the versioned JSON document (``schema.json``); ``render``
turns it into the project's files and the generation prompt's section.
"""

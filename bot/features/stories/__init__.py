"""Weekly customer stories: the story bank, one post a week, reflections and engagement."""

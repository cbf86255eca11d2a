"""Reference solutions to the exercises (instructors may delete this package)."""

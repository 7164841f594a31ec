"""Service exceptions: windows in which named components are excused."""

"""Calendar data shipped with hallrate: ``<year>.csv`` files in the calendar CSV format (the State
Council notice of a year chinese-calendar lacks, 日期,类型,名称) and ``pending.toml``, the dated
acknowledgements of years whose notice the project does not have yet. Read by
server/calendar_file.py; the yearly procedure is in docs/cases.md "Working days"."""

"""Call records: one per ended call (model.py, pure), their table, store, writer, spool and migrations.

Imported by metrics/ (the KPI arithmetic reads `CallRecordData`), tickets/ (a ticket links to its calls)
and the shell (callcenter/ writes records through `RecordWriter`). It imports none of them.
"""

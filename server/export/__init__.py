"""Export of ratings to provincial 好差评 platforms (GB/T 39046-2020): the export record, the
province profiles, file export and the push (docs/export.md)."""

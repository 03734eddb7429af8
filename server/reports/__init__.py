"""Publications (docs/reports.md): the quarterly 群众满意度 ranking, the monthly 差评 report and
the per-staff appraisal sheet, as XLSX and as PDF in Chinese, from the API's own numbers."""

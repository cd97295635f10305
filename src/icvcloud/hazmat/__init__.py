"""Hazmat transport supervision: the UN number table, document findings and
waybill validation — pure code over the records in ``icvcloud.model.hazmat``
(docs/hazmat.md)."""

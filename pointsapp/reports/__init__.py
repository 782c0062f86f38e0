"""The office's reports on the catalogue: claims per item and reviewer, approval rate and time to decision,
points by catalogue category per month (XLSX)."""

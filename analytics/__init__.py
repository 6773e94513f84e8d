"""Analytics: event log with pre-aggregated counters (events), pure KPI formulas (kpi), reports (report)."""

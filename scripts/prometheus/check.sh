#!/usr/bin/env bash
# `npm run metrics:check`: promtool on the shipped Prometheus files (test/unit/metrics/alerts.test.ts runs the same
# under `npm test`). metrics/prometheus.yml with the rule file it loads, then metrics/alerts.test.yml's unit tests
# of every alert. Fetches promtool first when needed (scripts/prometheus/provision.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=$(bash scripts/prometheus/provision.sh)
"$bin/promtool" check config metrics/prometheus.yml
"$bin/promtool" test rules metrics/alerts.test.yml

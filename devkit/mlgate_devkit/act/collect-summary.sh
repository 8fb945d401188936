# Sourced by every `shell: bash` step through BASH_ENV (tests/test_act.py passes it with
# `act --env`). act truncates $GITHUB_STEP_SUMMARY before each step and never keeps it; GitHub
# instead joins the steps' summaries into the job summary. This EXIT trap does the same: it
# appends each step's summary to $ACT_STANDIN_SUMMARIES/<job>.md so the test can read it.
if [ -n "${ACT_STANDIN_SUMMARIES:-}" ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  trap '__rc=$?; if [ -s "$GITHUB_STEP_SUMMARY" ]; then mkdir -p "$ACT_STANDIN_SUMMARIES"; cat "$GITHUB_STEP_SUMMARY" >> "$ACT_STANDIN_SUMMARIES/${GITHUB_JOB:-job}.md"; fi; exit $__rc' EXIT
fi

"""What colorize does, as plain functions that views, the API, the admin and django-q2 tasks call:

- submission.py  where an upload becomes a job (check, store, queue); the preselected model
- running.py     where a job becomes an image (job_run, run by a worker); retry and re-run
- recovery.py    jobs whose worker died or stopped: heartbeats, the sweeper, handing back
- quotas.py      daily quotas per account and per anonymous client
- expiry.py      anonymous work: kept on sign-in, deleted minutes after it is done
- sharing.py     publishing to the gallery and withdrawing
- storage.py     deleting content with its files
- moderation.py  staff actions, recorded with their reasons
- errors.py      the refusals, each with a message for the person who asked
"""

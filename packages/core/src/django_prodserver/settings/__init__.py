"""Settings: ``PRODUCTION_PROCESSES`` and its env file into validated, typed process configs.

``config`` (one ``ProcessConfig`` per name), ``restart`` (the RESTART and ONESHOT keys),
``envfile`` (``--env-file`` / ``PRODSERVER_ENV_FILE``)."""

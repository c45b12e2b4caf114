"""Looking inside running processes: ``prodserver dump`` and ``prodserver profile``.

``targets`` finds the processes of a PRODUCTION_PROCESSES name (from /proc, via ``ops.procfs``);
``pyspy`` runs py-spy against them; ``merge`` makes one profile of many; ``memory`` the memory
profile (memray, or the tracemalloc hook of ``ops.memhook``); ``access`` says why attaching failed.
"""

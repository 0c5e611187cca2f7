"""Course tooling: release learner notebooks, run the course, grade submissions.

Commands (``python -m grading --help``): ``release``, ``run``, ``grade``, ``gradebook``.
Each notebook transformation is a small step in ``grading/steps/``; a command chains them.
"""

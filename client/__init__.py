"""The student command line ``gradedescent``: submit, check results and grade a solution locally."""

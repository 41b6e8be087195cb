"""What every app shares and no app owns: the refusal every service raises (`core.refusals`)."""

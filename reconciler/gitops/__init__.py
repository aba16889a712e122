"""Git-aware planning, with gitpython.

- `changes`: the group files that changed since a ref (`plan|apply --changed-since REF`), and the
  identities of groups whose files were deleted or renamed, read from their old text.
- `commit`: the `eas-gitops/commit` label every write records (HEAD's sha, `-dirty` per group file
  that differs from it); nothing outside git.
- `scope`: both put together for a plan (`git_inputs`).
- `repo`: finding the repository, path conversions.

Only `--changed-since` fails without git; commit recording is best effort and never an error.
"""

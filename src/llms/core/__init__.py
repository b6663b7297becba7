"""Types, stream events and the error tree: imported by every layer, imports none of ours."""

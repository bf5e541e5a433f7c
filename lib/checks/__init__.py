"""Domain checks: limerick form, element facts and the element table they read."""

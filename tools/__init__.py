"""Tools that stand outside the hall's programs: document generators."""

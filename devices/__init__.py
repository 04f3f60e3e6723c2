"""Device profiles: measured tables, analytic costs and live measurement on this machine."""

"""The lead journey: normalize, de-duplicate, score, route, explain."""

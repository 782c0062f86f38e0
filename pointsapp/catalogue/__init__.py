"""The community's points catalogue (积分细则): what earns points, what costs them, who confirms, how often."""

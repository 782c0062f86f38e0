"""积分申报: a resident (or a building leader or grid worker for her) claims a catalogue item with evidence;
the reviewer the item names approves, rejects or asks for more."""

"""Call-number screens (综合屏, 窗口屏) and the calling voice."""

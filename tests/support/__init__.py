"""Test doubles and helpers several test folders share (no tests here).

screens          a virtual X display (Xvfb, the ``display`` fixture), a cuttable TCP proxy,
                 a Kivy child process's environment, running a scenario in it
server_proc      a real queue server in its own process (signage, benchmarks)
clocked_server   the same with a clock the test sets (kiosk, navigator)
terminal_driver  the kiosk's and the navigator's scenario drivers' common part
terminal_app     checking a terminal scenario's screenshots
deploy           a hall configuration naming a terminal's devices; install --dry-run
"""

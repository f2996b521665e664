dist_man_MANS += docs/modvm.1 docs/modvm.ini.5
EXTRA_DIST += docs/plugin-guide.md

// MathJax 3, served by the site itself (docs/hooks.py). Markdown pages mark their math with
// pymdownx.arithmatex as \( \) and \[ \]; notebook cells keep their $ $ and $$ $$. Code and
// preformatted text are never typeset (MathJax skips pre and code).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
};

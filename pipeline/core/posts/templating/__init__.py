"""The template syntax of the tool a post came from, resolved before Markdown.

Jekyll's Liquid, Hugo's shortcodes, Pelican's link placeholders and WordPress's
shortcodes are written in the post's source, so they are resolved there, as those
tools did, in one pass from left to right: a tag's replacement is never read again.
Code is shown as written: inside code blocks and spans only the escapes the old
tool removed there too (`{% raw %}`, `{{</* */>}}`) are taken out. Whatever is
not understood stands for nothing and is reported (`Resolved.left`), so it never
reaches a reader as literal text; `[build] unknown_tags` decides what that costs.
"""

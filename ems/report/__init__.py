"""Reports: a period's statistics as an HTML page with charts and as a PDF.

:func:`ems.report.build.build_report` computes the statistics of every site (or of every
charger) for a month, week, day or range; :func:`ems.report.html.render_html` and
:func:`ems.report.pdf.render_pdf` turn them into the two documents; ``ems report``
(:mod:`ems.report.cli`) writes them to a folder. Nothing is imported here, so that adding the
command to ``ems`` does not load pandas, plotly and matplotlib.
"""

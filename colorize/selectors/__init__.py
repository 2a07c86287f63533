"""Read-side queries, for views, the API and the admin:

- access.py       who may see what; histories, the gallery, counts per owner
- model_pages.py  the model picker, job labels, the model family pages
- catalogue.py    which models are installed here, and the shipped cards (kept per process)
- downloads.py    every image served (originals, results, JPEGs, thumbnails, zips)
- dashboard.py    the admin dashboard's figures
"""

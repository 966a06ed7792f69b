await Ingest.start()

"""Process reward models: data and labels (`data`), the network (`model`), training (`train`)."""

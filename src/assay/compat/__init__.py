"""Other products' APIs over Assay's services, so their official clients work unchanged."""

"""The service catalog: bureaus, services, materials, forms, guides; signage content."""

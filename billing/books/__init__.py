"""The books (issue 17): bank statements read and matched against invoices, the
livre des recettes and the FEC. Framework-free; the web side is `webapp.books`."""

"""Publishing a tune or an export to the Hugging Face Hub: what a folder holds
(``contents``), the model card made from it (``card``), and the upload (``push``)."""

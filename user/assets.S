/* assets.S -- embeds files of the repository in the binary (.incbin): the default price table and the HTML report's page. */
	.section .rodata
	.balign 16
	.globl asset_prices_tsv
	.globl asset_prices_tsv_end
asset_prices_tsv:
	.incbin "data/prices.tsv"
	.byte 0
asset_prices_tsv_end:

	.balign 16
	.globl asset_report_html
	.globl asset_report_html_end
asset_report_html:
	.incbin "data/report.html"
	.byte 0
asset_report_html_end:

	.section .note.GNU-stack,"",@progbits

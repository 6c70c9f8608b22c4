"""``manage.py audit_ledger``: exit 0 when the books balance, else 1."""

from django.core.management.base import BaseCommand, CommandError

from ledger.audit import CHECKS, audit


class Command(BaseCommand):
    help = "Check every money and order invariant; non-zero on any break."

    def handle(self, *args, **options):
        findings = audit()
        if not findings:
            self.stdout.write(
                self.style.SUCCESS(
                    f"audit_ledger: OK ({len(CHECKS)}+ invariants hold)"
                )
            )
            return
        for finding in findings:
            self.stderr.write(
                f"BROKEN {finding.check.name}: {finding.check.description}"
            )
            for row in finding.rows:
                self.stderr.write(f"    {row}")
        names = ", ".join(finding.check.name for finding in findings)
        raise CommandError(
            f"audit_ledger: {len(findings)} invariant(s) broken: {names}"
        )

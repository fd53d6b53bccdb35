import datetime

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("municipalities", "0006_trust_boundary"),
    ]

    operations = [
        migrations.AddField(
            model_name="municipality",
            name="garbage_collection_time",
            field=models.TimeField(
                default=datetime.time(8, 30),
                help_text="この時刻を過ぎると、チャットボットは今日の収集を「次の収集日」として案内しません（例: 8:30）。",
                verbose_name="ごみの収集時刻",
            ),
        ),
        migrations.AddField(
            model_name="municipality",
            name="office_hours",
            field=models.CharField(
                default="平日 8:30〜17:15（土日祝日・年末年始を除く）",
                help_text="「職員と話す」を選んだ住民に、いつ返事が来るかとして伝えます。",
                max_length=200,
                verbose_name="職員が対応する時間",
            ),
        ),
        migrations.AddField(
            model_name="municipality",
            name="handoff_notify_email",
            field=models.EmailField(
                blank=True,
                help_text="住民が「職員と話す」を選んだときに知らせるメールアドレス（空欄なら管理画面の表示だけ）。",
                max_length=254,
                verbose_name="職員呼び出しの通知先メール",
            ),
        ),
        migrations.AddField(
            model_name="municipality",
            name="handoff_pause_minutes",
            field=models.PositiveIntegerField(
                default=30,
                help_text="職員が自動応答を止めたとき、対応完了にしなくてもこの時間が過ぎると自動応答に戻ります。",
                verbose_name="職員対応中に自動応答を止める時間（分）",
            ),
        ),
        migrations.AddField(
            model_name="municipality",
            name="monthly_push_budget",
            field=models.PositiveIntegerField(
                default=0,
                help_text="LINE の料金プランで送れる 1 か月のメッセージ通数（例: 5000）。0 は上限なし。お知らせの送信前に、超えそうなときは警告します。",
                verbose_name="月間メッセージ通数の上限",
            ),
        ),
    ]

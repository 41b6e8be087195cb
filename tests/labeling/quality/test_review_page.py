"""The reviewer's page: accept, reject with a reason, correct; the author sees the outcome."""

import pytest

from labeling.models import Demonstration, Role
from labeling.services.projects import membership_grant
from tests.factories import ProjectFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    project = ProjectFactory()
    author, reviewer = UserFactory(), UserFactory()
    membership_grant(project=project, user=author, role=Role.ANNOTATOR)
    membership_grant(project=project, user=reviewer, role=Role.REVIEWER)
    prompt = PromptFactory(project=project)
    demonstration = Demonstration.objects.create(
        prompt=prompt, output="<b>Paris</b> is the capital", origin="answered", author=author
    )
    return project, author, reviewer, demonstration


def test_a_reviewer_sees_the_oldest_pending_demonstration_escaped(client, setup):
    project, _, reviewer, _ = setup
    client.force_login(reviewer)
    page = client.get(f"/p/{project.slug}/review/").content.decode()
    assert "&lt;b&gt;Paris&lt;/b&gt; is the capital" in page
    assert "<b>Paris</b>" not in page
    assert "1 demonstration waits for review" in page
    assert f"/p/{project.slug}/review/" in client.get("/").content.decode()


def test_reject_needs_a_reason_and_keeps_the_page(client, setup):
    project, _, reviewer, demonstration = setup
    client.force_login(reviewer)
    response = client.post(
        f"/p/{project.slug}/review/", {"demonstration": demonstration.pk, "decision": "reject"}
    )
    assert response.status_code == 200
    assert "Say why it is rejected" in response.content.decode()
    demonstration.refresh_from_db()
    assert demonstration.review_status == Demonstration.ReviewStatus.PENDING


def test_reject_with_a_reason_reaches_the_authors_my_work_page(client, setup):
    project, author, reviewer, demonstration = setup
    client.force_login(reviewer)
    response = client.post(
        f"/p/{project.slug}/review/",
        {"demonstration": demonstration.pk, "decision": "reject", "reason": "Cite the source"},
    )
    assert response.status_code == 302
    assert "Nothing waits for review" in client.get(response["Location"]).content.decode()
    client.force_login(author)
    my_work = client.get(f"/p/{project.slug}/my-work/").content.decode()
    assert "Rejected" in my_work
    assert "Cite the source" in my_work


def test_a_correction_is_accepted_and_keeps_the_original(client, setup):
    project, _, reviewer, demonstration = setup
    client.force_login(reviewer)
    client.post(
        f"/p/{project.slug}/review/",
        {
            "demonstration": demonstration.pk,
            "decision": "correct",
            "corrected_output": "Paris is the capital of France.",
        },
    )
    demonstration.refresh_from_db()
    assert demonstration.review_status == Demonstration.ReviewStatus.ACCEPTED
    assert demonstration.output == "Paris is the capital of France."
    assert demonstration.original_output == "<b>Paris</b> is the capital"


def test_annotators_cannot_review_and_outsiders_do_not_see_the_project(client, setup):
    project, author, _, _ = setup
    client.force_login(author)
    assert client.get(f"/p/{project.slug}/review/").status_code == 403
    client.force_login(UserFactory())
    assert client.get(f"/p/{project.slug}/review/").status_code == 404


def test_reviewers_never_review_their_own_work(client, setup):
    project, _, reviewer, demonstration = setup
    Demonstration.objects.filter(pk=demonstration.pk).update(author=reviewer)
    client.force_login(reviewer)
    assert "Nothing waits for review" in client.get(f"/p/{project.slug}/review/").content.decode()


def test_the_review_and_my_work_pages_speak_korean(client, setup):
    project, author, reviewer, demonstration = setup
    client.force_login(reviewer)
    url = f"/p/{project.slug}/review/"
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "검토를 기다리는 모범 답변 1개" in page
    assert "지시문" in page and "반려할 때 필수" in page
    assert ">승인</button>" in page and ">반려</button>" in page and "수정 저장" in page
    assert "Accept" not in page and "waits for review" not in page
    refused = client.post(
        url, {"demonstration": demonstration.pk, "decision": "reject"}, HTTP_ACCEPT_LANGUAGE="ko"
    )
    assert "반려 이유를 적어 주세요. 작성자에게 보입니다." in refused.content.decode()
    saved = client.post(
        url,
        {"demonstration": demonstration.pk, "decision": "reject", "reason": "출처를 밝혀 주세요"},
        HTTP_ACCEPT_LANGUAGE="ko",
        follow=True,
    ).content.decode()
    assert "검토를 저장했습니다." in saved and "검토를 기다리는 모범 답변이 없습니다." in saved
    client.force_login(author)
    my_work = client.get(f"/p/{project.slug}/my-work/", HTTP_ACCEPT_LANGUAGE="ko")
    html = my_work.content.decode()
    assert "내 작업" in html and "작업으로 돌아가기" in html and "골드 항목" in html
    assert "반려됨" in html and "출처를 밝혀 주세요" in html
    assert "Rejected" not in html and "Gold items" not in html
